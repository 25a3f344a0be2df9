"""The command line: the argparse entry, report and status commands, text formatting, headless mode."""
