"""Video sources: a camera (OpenCV) or a video file (real-time pace or as fast as possible),
and the conversion of raw ROS image fields to RGB arrays. No ROS types here."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import numpy as np

Clock = Callable[[], float]


class VideoSourceError(RuntimeError):
    """The source cannot start; the message says why and what to do."""


@dataclass
class VideoFrame:
    rgb: np.ndarray  # (H, W, 3) uint8
    capture_time: float  # seconds on the caller's clock
    index: int  # frame number in the source


def _open_capture(target, what: str):
    import cv2

    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        capture.release()
        raise VideoSourceError(what)
    return capture


class VideoFileSource:
    """Frames of a video file, each placed at its own timestamp in the file (any frame rate,
    variable frame rates too). ``realtime``: ``read()`` returns the next frame whose time has
    come; once the caller is more than ``max_lag_frames`` behind, late frames are skipped and
    counted in ``dropped`` (a camera would have overwritten them). Otherwise every frame in
    turn. Capture times are the first read's time plus the frame's timestamp."""

    def __init__(self, path: str | Path, clock: Clock = time.time, realtime: bool = True,
                 loop: bool = False, max_lag_frames: int = 2):
        import cv2

        self.path = Path(path)
        if not self.path.exists():
            raise VideoSourceError(f"video file '{self.path}' does not exist")
        if not self.path.is_file():
            raise VideoSourceError(f"'{self.path}' is a directory, not a video file")
        self._capture = _open_capture(str(self.path), f"cannot decode video file '{self.path}'")
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or 25.0
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self._clock, self._realtime, self._loop = clock, realtime, loop
        self._max_lag = max_lag_frames
        self._start: float | None = None
        self._offset = 0.0  # file time of the current loop's start
        self._pending: float | None = None  # file time of the grabbed, not yet returned frame
        self._last_time = -1.0 / self.fps
        self._next = 0  # index of the next frame in the file
        self.dropped = 0
        self.finished = False

    def _grab(self) -> bool:
        """Grab the next frame and note its time; False at the end."""
        import cv2

        if not self._capture.grab():
            if not (self._loop and self._next):
                self.finished = True
                return False
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._offset = self._last_time + 1.0 / self.fps
            self._next = 0
            if not self._capture.grab():
                self.finished = True
                return False
        position = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        # Containers without timestamps report 0 for every frame: fall back to the frame rate.
        if self._next and position <= self._last_time - self._offset:
            position = self._last_time - self._offset + 1.0 / self.fps
        self._pending = self._offset + position
        self._last_time = self._pending
        self._next += 1
        return True

    def read(self) -> VideoFrame | None:
        now = self._clock()
        if self._start is None:
            self._start = now
        if self.finished or (self._pending is None and not self._grab()):
            return None
        if self._realtime:
            elapsed = now - self._start
            if self._pending > elapsed:
                return None  # the next frame's time has not come
            while elapsed - self._pending > self._max_lag / self.fps:  # skip what is too late
                if not self._grab():
                    return None
                self.dropped += 1
        ok, bgr = self._capture.retrieve()
        at, self._pending = self._pending, None
        if not ok:
            self.finished = True
            return None
        return VideoFrame(np.ascontiguousarray(bgr[..., ::-1]), self._start + at, self._next - 1)

    def close(self) -> None:
        self._capture.release()


class CameraSource:
    """A camera through OpenCV. A capture thread keeps only the newest frame; frames replaced
    before anyone read them are counted in ``dropped``."""

    def __init__(self, device: str = '0', width: int = 640, height: int = 480, fps: float = 30.0,
                 clock: Clock = time.time):
        import cv2

        target = int(device) if str(device).isdigit() else str(device)
        cameras = ', '.join(sorted(glob('/dev/video*'))) or 'none found'
        self._capture = _open_capture(target, f"cannot open camera '{device}' (video devices: "
                                              f'{cameras}); use source:=file or source:=topic')
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._capture.set(cv2.CAP_PROP_FPS, fps)
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or fps
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: VideoFrame | None = None
        self._count = 0
        self.dropped = 0
        self.finished = False
        self._running = True
        self._thread = threading.Thread(target=self._run, name='camera', daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            ok, bgr = self._capture.read()
            if not ok:
                self.finished = True
                return
            frame = VideoFrame(np.ascontiguousarray(bgr[..., ::-1]), self._clock(), self._count)
            self._count += 1
            with self._lock:
                if self._latest is not None:
                    self.dropped += 1
                self._latest = frame

    def read(self) -> VideoFrame | None:
        with self._lock:
            frame, self._latest = self._latest, None
        return frame

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2.0)
        self._capture.release()


IMAGE_ENCODINGS = ('rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8')


def rgb_from_image_fields(encoding: str, height: int, width: int, step: int,
                          data: bytes) -> np.ndarray:
    """The fields of a sensor_msgs/Image -> (H, W, 3) uint8 RGB; ``ValueError`` on anything
    that is not a well-formed image in a supported encoding."""
    if encoding not in IMAGE_ENCODINGS:
        raise ValueError(f"unsupported encoding '{encoding}'; supported: "
                         + ', '.join(IMAGE_ENCODINGS))
    if height == 0 or width == 0:
        raise ValueError(f'the image is empty ({width}x{height})')
    channels = {'mono8': 1, 'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4}[encoding]
    if step < width * channels or len(data) < height * step:
        raise ValueError(f'{len(data)} bytes with step {step} cannot hold a {width}x{height} '
                         f'{encoding} image')
    rows = np.frombuffer(bytes(data), dtype=np.uint8, count=height * step).reshape(height, step)
    pixels = rows[:, :width * channels].reshape(height, width, channels)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if encoding.startswith('bgr'):
        pixels = pixels[..., 2::-1]
    return np.ascontiguousarray(pixels[..., :3])
