"""Minimal stand-in for the two torchvision corners that segment-anything 1.0 imports.

torchvision has no CPU build matching torch 2.13 here, and the oracle only needs a PIL bilinear resize and
box NMS. This package lives in the tests only; segany itself never imports torchvision.
"""
