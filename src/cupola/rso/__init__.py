"""Resident space objects: synthetic imagery of a spacecraft, image recovery and pose estimation.

Pure computation and rendering: :mod:`~cupola.rso.spacecraft` (the ISS-like model, user meshes),
:mod:`~cupola.rso.render` (CPU ray casting), :mod:`~cupola.rso.degrade` (PSF, noise, JPEG),
:mod:`~cupola.rso.rotations` (6-D representation, geodesic distance, symmetries, SPEED score);
sets on disk: :mod:`~cupola.rso.dataset`; networks (plain PyTorch): :mod:`~cupola.rso.nets`;
training and inference: :mod:`~cupola.rso.train`, :mod:`~cupola.rso.recover`, :mod:`~cupola.rso.pose`.
"""
