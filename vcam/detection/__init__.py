"""Faces from pixels: the detectors, the scan policy within a frame's budget, the tracker."""
