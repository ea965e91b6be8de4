"""Entry point of the ``molprior`` command (filled in below)."""

def main(argv=None) -> int:  # replaced shortly
    return 0
