"""Configuration: typed model, TOML loader/validator, default locations."""
