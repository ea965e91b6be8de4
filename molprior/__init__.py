"""molprior: molecular property prediction from very little labelled data.

The package is layered (see README and ``tests/test_layers.py``): ``chem``, ``data`` and
``metrics`` at the bottom, then ``models``, ``meta``, ``serialization``, then ``training`` and
``inference``, ``evaluation``, ``tracking``, ``workflows``, and ``cli`` on top.
Importing :mod:`molprior` itself is cheap; sub-packages are imported on demand.
"""

__version__ = "0.1.0"
