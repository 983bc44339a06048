"""Shared numerics below both ``jointsr.models`` and ``jointsr.data``: plain functions with
no state, each tested against known values.

- :mod:`~jointsr.functional.imresize`: MATLAB ``imresize`` (bicubic, antialiased) and ``modcrop``;
- :mod:`~jointsr.functional.dct_resize`: band-limited (DCT) resampling between sizes a few pixels apart;
- :mod:`~jointsr.functional.color`: MATLAB ``rgb2ycbcr`` luminance (``rgb_to_y``);
- :mod:`~jointsr.functional.operators`: operator norms (the Lipschitz constants of ISTA).
"""
