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


def render_video(recorder, speaker_video: Path, path: Path, fps: float = 25.0,
                 labels: tuple[str, str] = ('model', 'rules')) -> Path:
    """Speaker video beside the listener's head (front and side), frame by frame; with a
    second listener recorded (``recorder.compare_joints``), both heads side by side."""
    import cv2

    if not recorder.joints or not recorder.speaker:
        raise RuntimeError('nothing to render: no joint states or speaker poses were received')
    heads = [_trajectory(recorder.joints)]
    if getattr(recorder, 'compare_joints', None):
        heads.append(_trajectory(recorder.compare_joints))
    start = recorder.speaker[0][0]
    capture = cv2.VideoCapture(str(speaker_video))
    writer = Mp4Writer(path, fps)
    index = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        t = start + index / fps
        panels = [bgr]
        for (times, positions), label in zip(heads, labels, strict=False):
            current = [np.interp(t, times, positions[:, j]) for j in range(positions.shape[1])]
            angles = neck_angles(recorder.joint_names, current)
            panels.append(labelled_heads(*angles, bgr.shape[0], label) if len(heads) > 1
                          else heads_panel(*angles, bgr.shape[0]))
        frame = np.concatenate(panels, axis=1)
        cv2.putText(frame, 'speaker', (12, bgr.shape[0] - 16), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                    (255, 255, 255), 2)
        writer.write(frame)
        index += 1
    capture.release()
    return writer.close()
