"""One module per `tandem` command; see `tandem.cli.COMMANDS`."""
