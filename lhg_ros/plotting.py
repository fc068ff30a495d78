"""Plots for people: matplotlib without a display."""


def pyplot():
    """matplotlib.pyplot on the Agg backend: writes files, needs no screen."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


class Mp4Writer:
    """BGR frames at a stated ``fps`` to an MP4 file, with ``audio`` (a sound file) muxed in
    from time 0, so frame k shows time k / fps of the sound. OpenCV writes MPEG-4 part 2;
    ffmpeg, where installed, re-encodes it to H.264 (which every player and browser shows)
    and adds the audio. Without ffmpeg the video is silent (``has_audio`` says so)."""

    def __init__(self, path, fps: float = 25.0, audio=None):
        from pathlib import Path

        self.path, self.fps = Path(path), float(fps)
        self.audio = None if audio is None else Path(audio)
        self._raw = self.path.with_suffix('.mp4v.mp4')
        self._writer = None
        self.frames = 0
        self.has_audio = False

    def write(self, bgr) -> None:
        import cv2

        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self._raw), cv2.VideoWriter_fourcc(*'mp4v'),
                                           self.fps, (bgr.shape[1], bgr.shape[0]))
        self._writer.write(bgr)
        self.frames += 1

    def close(self):
        import shutil
        import subprocess

        if self._writer is None:
            raise RuntimeError(f'no frame was written to {self.path}')
        self._writer.release()
        if shutil.which('ffmpeg'):
            command = ['ffmpeg', '-y', '-loglevel', 'error', '-i', str(self._raw)]
            if self.audio is not None:
                # The sound is cut to the video's length; both streams start at 0.
                command += ['-i', str(self.audio), '-map', '0:v:0', '-map', '1:a:0', '-c:a',
                            'aac', '-t', f'{self.frames / self.fps:.3f}']
            command += ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-r', f'{self.fps:g}',
                        str(self.path)]
            subprocess.run(command, check=True)
            self._raw.unlink()
            self.has_audio = self.audio is not None
        else:
            self._raw.replace(self.path)
        return self.path
