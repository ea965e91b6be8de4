"""molprior: molecular property prediction from very little labelled data.

The package is layered (see README): ``chem`` and ``data`` at the bottom, then
``models``/``meta``, then ``training``/``evaluation``, then ``tracking``, then ``cli``.
Importing :mod:`molprior` itself is cheap; sub-packages are imported on demand.
"""

__version__ = "0.1.0"
