"""The demo's picture and video: what the speaker did and how the listener answered."""

from pathlib import Path

import numpy as np

from lhg_ros.motion.avatar import HEAD_PARTS, head_rotation, neck_angles
from lhg_ros.plotting import Mp4Writer, pyplot


def plot_session(recorder, path: Path) -> None:
    plt = pyplot()
    t0 = recorder.audio[0][0] if recorder.audio else 0.0
    fig, axes = plt.subplots(3, 1, figsize=(12, 7.5), sharex=True)
    if recorder.audio:
        t, power = np.array(recorder.audio).T
        axes[0].plot(t - t0, power, lw=0.7, color='tab:blue', label='log power')
        if recorder.speaking:
            ts, flags = np.array(recorder.speaking, dtype=float).T
            axes[0].fill_between(ts - t0, power.min(), power.max(), where=flags > 0.5,
                                 step='post', color='tab:green', alpha=0.2,
                                 label='speaking (VAD)')
    axes[0].set_ylabel('speaker audio')
    axes[0].legend(loc='upper right', fontsize=8)
    axes[0].set_title('lhg_ros demo: speaker audio and head pose in, listener head motion out')
    if recorder.speaker:
        ts = np.array([s for s, _ in recorder.speaker]) - t0
        dof = np.degrees(np.array([d[:3] for _, d in recorder.speaker]))
        for i, name in enumerate(('pitch', 'yaw', 'roll')):
            axes[1].plot(ts, dof[:, i], lw=1.0, label=name)
    axes[1].set_ylabel('speaker head (deg)')
    axes[1].legend(loc='upper right', fontsize=8, ncol=3)
    if recorder.joints:
        ts = np.array([s for s, _ in recorder.joints]) - t0
        positions = np.degrees(np.array([p for _, p in recorder.joints]))
        for i, name in enumerate(recorder.joint_names):
            axes[2].plot(ts, positions[:, i], lw=1.2, label=name)
    if getattr(recorder, 'compare_joints', None) and 'neck_pitch' in recorder.joint_names:
        pitch = recorder.joint_names.index('neck_pitch')
        ts, positions = _trajectory(recorder.compare_joints)
        axes[2].plot(ts - t0, np.degrees(positions[:, pitch]), lw=1.0, ls='--', color='grey',
                     label='neck_pitch (rule policy)')
    for i, nod in enumerate(recorder.nods):
        axes[2].axvline(nod - t0, color='k', ls=':', lw=0.8, label='nod' if i == 0 else None)
    axes[2].set_ylabel('listener joints (deg)')
    axes[2].set_xlabel('time (s)')
    axes[2].legend(loc='upper right', fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def motion_summary(name: str, poses: np.ndarray, rate: float) -> list[tuple[str, str]]:
    """How much a listener moved, by the evaluation's measures (one nod detector)."""
    from lhg_ros.evaluation import measures

    nods = measures.nod_statistics(poses, rate)
    rms = measures.motion_rms(poses, rate)
    count = round(nods['nods_per_min'] * len(poses) / rate / 60.0)
    pitch = np.degrees(poses[:, 0])
    return [(f'{name}: nods', f"{count} ({nods['nods_per_min']:.1f} per minute, median "
                              f"{nods['median_nod_deg']:.1f} deg)"),
            (f'{name}: pitch range', f'{pitch.min():+.1f} .. {pitch.max():+.1f} deg'),
            (f'{name}: RMS pitch / yaw / roll', ' / '.join(
                f"{rms[f'rms_{a}_deg']:.2f}" for a in measures.ANGLES) + ' deg')]


def plot_motion(path: Path, tracks) -> None:
    """Pitch, yaw and roll of each (name, times, relative poses) track, one panel an axis."""
    from lhg_ros.motion.nods import detect_nods

    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(12, 6.5), sharex=True)
    for (name, times, poses), style in zip(tracks, ('-', '--', ':'), strict=False):
        for i, (ax, axis) in enumerate(zip(axes, ('pitch', 'yaw', 'roll'), strict=True)):
            line, = ax.plot(times, np.degrees(poses[:, i]), ls=style, lw=1.0, label=name)
            ax.set_ylabel(f'{axis} (deg)')
        rate = (len(times) - 1) / max(times[-1] - times[0], 1e-9) if len(times) > 1 else 1.0
        peaks, _ = detect_nods(poses[:, 0], rate)
        axes[0].plot(times[0] + peaks, np.degrees(np.interp(times[0] + peaks, times,
                                                            poses[:, 0])),
                     'v', color=line.get_color(), ms=5, label=f'{name}: nods')
    axes[0].legend(loc='upper right', fontsize=8, ncol=4)
    axes[0].set_title('listener head motion (relative to neutral; a nod is pitch down)')
    axes[-1].set_xlabel('time (s)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# Orthographic views: (image-right axis, depth axis toward the viewer) in head coordinates.
VIEWS = {'front': (np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])),
         'side': (np.array([1.0, 0.0, 0.0]), np.array([0.0, -1.0, 0.0]))}


def draw_head(yaw: float, pitch: float, roll: float, size: int = 480,
              view: str = 'front') -> np.ndarray:
    """The avatar head seen from the front (its left on the image's right) or from its right
    side (face to the right), orthographic, as an RGB image."""
    import cv2

    right, toward_viewer = VIEWS[view]
    canvas = np.full((size, size, 3), 235 if view == 'front' else 225, dtype=np.uint8)
    rotation = head_rotation(yaw, pitch, roll)
    scale = size / 0.34
    centre = np.array([size / 2, size * 0.78])

    def project(point):
        return centre + scale * np.array([point @ right, -point[2]])

    parts = sorted(HEAD_PARTS, key=lambda p: (rotation @ np.array(p.centre)) @ toward_viewer)
    for part in parts:
        middle = rotation @ np.array(part.centre)
        colour = tuple(int(255 * c) for c in part.colour)
        if part.shape == 'sphere':
            u, v = project(middle)
            cv2.circle(canvas, (int(u), int(v)), max(1, int(scale * part.size[1] / 2)), colour,
                       -1, lineType=cv2.LINE_AA)
        else:  # a thin box: a line along its longest edge
            axis = np.zeros(3)
            axis[int(np.argmax(part.size))] = max(part.size) / 2
            a, b = project(middle - rotation @ axis), project(middle + rotation @ axis)
            cv2.line(canvas, tuple(a.astype(int)), tuple(b.astype(int)), colour,
                     max(2, int(scale * min(part.size))), lineType=cv2.LINE_AA)
    label = (f'pitch {np.degrees(pitch):+5.1f}  yaw {np.degrees(yaw):+5.1f} deg'
             if view == 'front' else 'side')
    scale = size / 480  # the label fits the panel whatever its size
    cv2.putText(canvas, label, (int(12 * scale), int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                0.7 * scale, (40, 40, 40), max(1, int(2 * scale)))
    return canvas


def heads_panel(yaw: float, pitch: float, roll: float, height: int) -> np.ndarray:
    """The listener's head from the front and from the side, side by side, as BGR."""
    front = draw_head(yaw, pitch, roll, size=height)
    side = draw_head(yaw, pitch, roll, size=height, view='side')
    return np.concatenate([front, side], axis=1)[..., ::-1]


def labelled_heads(yaw: float, pitch: float, roll: float, height: int, label: str
                   ) -> np.ndarray:
    """One listener's head, front over side, each ``height / 2`` square, with a label; BGR."""
    import cv2

    half = height // 2
    column = np.concatenate([draw_head(yaw, pitch, roll, size=half),
                             draw_head(yaw, pitch, roll, size=half, view='side')], axis=0)
    column = np.ascontiguousarray(column[..., ::-1])
    cv2.putText(column, label, (10, half - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 160), 2)
    return column


def _trajectory(joints):
    return np.array([s for s, _ in joints]), np.array([p for _, p in joints])


class FramesByTime:
    """A video file's frames by time: :meth:`at` gives the frame on screen at file time ``t``
    (the latest whose timestamp is not after ``t``), None before the first frame and after
    the last one has been shown for one frame period."""

    def __init__(self, path: Path):
        from lhg_ros.sources.video import VideoFileSource

        self._source = VideoFileSource(path, clock=lambda: 0.0, realtime=False)
        self.fps = self._source.fps
        self._current, self._next = None, self._source.read()
        self.shape = None if self._next is None else self._next.rgb.shape

    def at(self, t: float) -> np.ndarray | None:
        while self._next is not None and self._next.capture_time <= t + 1e-6:
            self._current, self._next = self._next, self._source.read()
        if self._current is None:
            return None
        if self._next is None and t >= self._current.capture_time + 1.0 / self.fps:
            return None
        return self._current.rgb

    def close(self) -> None:
        self._source.close()


def _waveform_strip(samples: np.ndarray, sample_rate: int, t: float, width: int) -> np.ndarray:
    """4 s of the speech waveform around ``t`` (the present at the red line), BGR."""
    import cv2

    strip = np.full((90, width, 3), 255, np.uint8)
    window = int(4 * sample_rate)
    first = int(t * sample_rate) - window // 2
    part = np.zeros(window)
    lo, hi = max(first, 0), min(first + window, len(samples))
    if hi > lo:
        part[lo - first:hi - first] = np.abs(samples[lo:hi])
    for x, chunk in enumerate(np.array_split(part, width)):
        half = int(min(chunk.max(initial=0.0), 1.0) * 40)
        cv2.line(strip, (x, 45 - half), (x, 45 + half), (160, 90, 40), 1)
    cv2.line(strip, (width // 2, 0), (width // 2, 89), (0, 0, 200), 1)
    return strip


def render_session(path: Path, speaker_video: Path | None, duration_s: float, heads,
                   joint_names, audio: Path | None = None, video_offset_s: float = 0.0,
                   fps: float = 25.0, progress: bool = True) -> Path:
    """An MP4 at ``fps`` of the speaker video beside the listener's head (front and side), one
    column per entry of ``heads`` ((times, positions (n, joints), label), times in seconds
    from the start of the audio), over the speech waveform, with the speech muxed in.
    Everything is placed by time: frame k shows time k / fps of the audio, the video frame
    on screen then (the video started ``video_offset_s`` after the audio) and the joints
    then, whatever the video's own frame rate. ``progress``: a bar (rendering runs at about
    real time)."""
    import cv2
    import soundfile as sf
    from tqdm import tqdm

    frames = FramesByTime(speaker_video) if speaker_video is not None else None
    height, width = (frames.shape[:2] if frames is not None and frames.shape is not None
                     else (480, 640))
    samples = None
    if audio is not None:
        samples, sample_rate = sf.read(str(audio), dtype='float32', always_2d=True)
        samples = samples.mean(axis=1)
    writer = Mp4Writer(path, fps, audio=audio)
    try:
        for index in tqdm(range(max(1, int(duration_s * fps))), desc=f'rendering {path.name}',
                          unit='frame', leave=False, disable=not progress):
            t = index / fps
            rgb = None if frames is None else frames.at(t - video_offset_s)
            if rgb is None:
                speaker = np.full((height, width, 3), 60, np.uint8)
                cv2.putText(speaker, 'no video', (12, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                            (200, 200, 200), 2)
            else:
                speaker = np.ascontiguousarray(rgb[..., ::-1])
            panels = [speaker]
            for times, positions, label in heads:
                current = [np.interp(t, times, positions[:, j]) for j in range(positions.shape[1])]
                angles = neck_angles(joint_names, current)
                panels.append(labelled_heads(*angles, height, label) if len(heads) > 1
                              else heads_panel(*angles, height))
            frame = np.concatenate(panels, axis=1)
            cv2.putText(frame, f'speaker  {t:5.1f} s', (12, height - 16),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
            if samples is not None:
                frame = np.concatenate([frame, _waveform_strip(samples, sample_rate, t,
                                                               frame.shape[1])], axis=0)
            writer.write(frame)
    finally:
        if frames is not None:
            frames.close()
    return writer.close()


def render_video(recorder, speaker_video: Path, path: Path, audio: Path | None = None,
                 first_face_s: float = 0.0, fps: float = 25.0,
                 labels: tuple[str, str] = ('model', 'rules')) -> Path:
    """The demo's MP4: what the nodes published, placed by their stamps (time 0 = the first
    audio frame's capture). ``first_face_s``: the video time of the first frame with a face
    (which the first pose's stamp belongs to)."""
    if not recorder.joints or not recorder.audio:
        raise RuntimeError('nothing to render: no joint states or audio features were received')
    t0 = recorder.audio[0][0]
    heads = []
    for joints, label in zip([recorder.joints, getattr(recorder, 'compare_joints', None)],
                             labels, strict=True):
        if joints:
            times, positions = _trajectory(joints)
            heads.append((times - t0, positions, label))
    offset = recorder.speaker[0][0] - first_face_s - t0 if recorder.speaker else 0.0
    duration = recorder.audio[-1][0] - t0 + 0.01
    return render_session(path, speaker_video, duration, heads, recorder.joint_names, audio,
                          offset, fps)


def write_bag(recorder, speech: Path, path: Path) -> Path:
    """The session as a rosbag2 MCAP bag in ``path`` (replaced): the speech as
    ``audio_common_msgs/AudioStamped`` (10 ms chunks, as the audio node read them, stamped from
    the first feature message's stamp, the file's first sample) and every message the monitor
    received, logged at its arrival."""
    import shutil

    import soundfile as sf

    from lhg_ros.data.bag import BagWriter

    samples, rate = sf.read(str(speech), dtype='int16', always_2d=True)
    if path.exists():
        shutil.rmtree(path)
    with BagWriter(path) as writer:
        writer.write_audio('/audio', samples, rate, recorder.audio[0][0], chunk=rate // 100)
        for topic, msgtype, arrival_ns, cdr in recorder.bag:
            writer.write(topic, msgtype, arrival_ns, cdr)
    return path
