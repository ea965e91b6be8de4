"""The ``molprior`` command-line interface: a thin shell over library functions."""
