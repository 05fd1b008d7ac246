"""Facial landmarks: the iBUG-68 convention, dlib detection, alignment, the paper's landmark image, drawing."""

from landmarkgan.landmarks.align import AlignedFace, align_face
from landmarkgan.landmarks.drawing import draw_landmarks
from landmarkgan.landmarks.encoding import landmark_image, landmark_radius

__all__ = ["AlignedFace", "align_face", "draw_landmarks", "landmark_image", "landmark_radius"]
