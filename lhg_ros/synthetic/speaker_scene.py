"""Synthetic speaker material made from real parts, for demos, smoke tests and tests: a real
face photograph (``skimage.data.astronaut()``, public domain) moved with known head motion.

Only in-plane motion (roll and shifts) can be made from one photograph; that is enough to check
a set-up end to end and to know the true answer.
"""

import functools
from pathlib import Path

import numpy as np

CANVAS = (480, 640)  # height, width
FACE_CENTRE_IN_PHOTO = (225, 120)  # (x, y) pixels of the face in the photograph


@functools.lru_cache(maxsize=1)
def _photo() -> np.ndarray:
    from skimage import data

    photo = data.astronaut()[:CANVAS[0]]  # 480 x 512
    photo.setflags(write=False)
    return photo


def face_frame(roll_deg: float = 0.0, dx: int = 0, dy: int = 0) -> np.ndarray:
    """A 640x480 RGB frame of the face, turned counter-clockwise (as seen) by ``roll_deg``
    about the face and shifted by (dx, dy) pixels."""
    import cv2

    photo = _photo()
    if roll_deg:
        turn = cv2.getRotationMatrix2D(FACE_CENTRE_IN_PHOTO, roll_deg, 1.0)  # CCW as seen
        photo = cv2.warpAffine(photo, turn, (photo.shape[1], photo.shape[0]),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    canvas = np.full((*CANVAS, 3), 128, dtype=np.uint8)
    canvas[:, 64:64 + photo.shape[1]] = photo
    return np.roll(canvas, (dy, dx), axis=(0, 1))


def speaker_motion(seconds: float, fps: float = 25.0, seed: int = 0) -> tuple[np.ndarray, ...]:
    """A plausible speaker's in-plane head motion: slow sways of roll (degrees) and horizontal
    position (pixels) with a little tremor. Returns (times, rolls, shifts)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fps)) / fps
    rolls = (8.0 * np.sin(2 * np.pi * 0.23 * t + rng.uniform(0, 6))
             + 4.0 * np.sin(2 * np.pi * 0.61 * t + rng.uniform(0, 6)))
    shifts = np.round(25.0 * np.sin(2 * np.pi * 0.11 * t + rng.uniform(0, 6))).astype(int)
    return t, rolls, shifts


def write_face_video(path: str | Path, rolls: np.ndarray, shifts: np.ndarray,
                     fps: float = 25.0) -> Path:
    """An MP4 (mp4v) of the face following ``rolls`` (degrees) and ``shifts`` (pixels)."""
    import cv2

    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (CANVAS[1], CANVAS[0]))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {path}')
    try:
        for roll, dx in zip(rolls, shifts, strict=True):
            writer.write(face_frame(float(roll), int(dx))[..., ::-1])
    finally:
        writer.release()
    return path


DEMO_SENTENCES = (
    'Hello there, thanks for taking the time to talk with me today.',
    'I wanted to tell you about the trip we took last summer along the coast.',
    'We drove for almost two weeks, and stopped in every small town we found.',
    'The best part was a tiny harbour where the fishermen sold breakfast.',
    'Have you ever travelled like that, without any plan at all?',
)


def speak(sentences, path: str | Path, pause_s: float = 0.7, voice: str = 'en-us',
          rate_wpm: int = 150) -> Path:
    """Real speech from espeak-ng, sentence by sentence with ``pause_s`` of silence between
    them (where a listener nods), joined and resampled to 16 kHz mono by sox."""
    import shutil
    import subprocess
    import tempfile

    missing = [tool for tool in ('espeak-ng', 'sox') if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{' and '.join(missing)} not found: apt install espeak-ng sox")
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        for i, sentence in enumerate(sentences):
            part = Path(tmp) / f'{i:02d}.wav'
            subprocess.run(['espeak-ng', '-v', voice, '-s', str(rate_wpm), '-w', str(part),
                            sentence], check=True, capture_output=True)
            padded = Path(tmp) / f'{i:02d}_16k.wav'
            subprocess.run(['sox', str(part), '-r', '16000', '-c', '1', '-b', '16', str(padded),
                            'pad', '0', str(pause_s)], check=True, capture_output=True)
            parts.append(str(padded))
        subprocess.run(['sox', *parts, str(path), 'pad', '0.5', '0'], check=True,
                       capture_output=True)
    return path
