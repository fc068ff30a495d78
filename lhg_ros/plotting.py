"""Plots for people: matplotlib without a display."""


def pyplot():
    """matplotlib.pyplot on the Agg backend: writes files, needs no screen."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


class Mp4Writer:
    """BGR frames to an MP4 file: OpenCV writes MPEG-4 part 2, then ffmpeg, where installed,
    re-encodes it to H.264, which every player and browser shows."""

    def __init__(self, path, fps: float = 25.0):
        from pathlib import Path

        self.path, self.fps = Path(path), fps
        self._raw = self.path.with_suffix('.mp4v.mp4')
        self._writer = None

    def write(self, bgr) -> None:
        import cv2

        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self._raw), cv2.VideoWriter_fourcc(*'mp4v'),
                                           self.fps, (bgr.shape[1], bgr.shape[0]))
        self._writer.write(bgr)

    def close(self):
        import shutil
        import subprocess

        if self._writer is None:
            raise RuntimeError(f'no frame was written to {self.path}')
        self._writer.release()
        if shutil.which('ffmpeg'):
            subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-i', str(self._raw), '-c:v',
                            'libx264', '-pix_fmt', 'yuv420p', str(self.path)], check=True)
            self._raw.unlink()
        else:
            self._raw.replace(self.path)
        return self.path
