"""Exit codes are part of the command-line interface: scripts branch on them."""

EXIT_OK = 0
EXIT_FAILURE = 1  # a runtime failure
EXIT_USAGE = 2  # bad input: config, flags, key file, database file
