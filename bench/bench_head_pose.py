"""Speaker head-pose pipeline speed on 640x480 frames: MediaPipe vs. our pose solve, and our
Procrustes solve vs. OpenCV's solvePnP on the same landmarks (the usual way to do it).

    .venv/bin/python bench/bench_head_pose.py [--frames 300]

One core. Frames are a real face photograph moving in the image
(lhg_ros.synthetic.speaker_scene), run in MediaPipe's tracking mode as the node does. Goals:
pipeline >= 60 frames/s, our solve < 0.5 ms.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentiles_us, pin_to_one_core  # noqa: E402
from lhg_ros.console import format_table, quiet_stderr  # noqa: E402


def solve_pnp_factory(reference, width, height):
    """OpenCV's iterative solvePnP on the same rigid landmarks and reference face."""
    import cv2
    import numpy as np

    from lhg_ros.features.landmark_pose import CameraModel

    camera = CameraModel.from_fov(width, height)
    matrix = np.array([[camera.fx, 0, camera.cx], [0, camera.fy, camera.cy], [0, 0, 1.0]])
    object_points = reference.points[reference.rigid]

    def solve(landmarks):
        image_points = landmarks[reference.rigid, :2] * (width, height)
        ok, rvec, tvec = cv2.solvePnP(object_points, image_points, matrix, None,
                                      flags=cv2.SOLVEPNP_ITERATIVE)
        return cv2.Rodrigues(rvec)[0]

    return solve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=300)
    args = parser.parse_args()
    cpu = pin_to_one_core()

    import numpy as np

    from lhg_ros.features.head_tracking import SpeakerHeadTracker
    from lhg_ros.filters import OneEuroFilter
    from lhg_ros.synthetic.speaker_scene import CANVAS, face_frame, speaker_motion

    _, rolls, shifts = speaker_motion(args.frames / 25.0)
    distinct = [face_frame(r, s) for r, s in zip(rolls[:50], shifts[:50], strict=True)]
    frames = [distinct[i % len(distinct)] for i in range(args.frames)]
    with quiet_stderr():
        tracker = SpeakerHeadTracker(smoothing=OneEuroFilter(1.5, 0.3))
        tracker.process(frames[0], 0.0)  # load the model before timing
    total, detect, solve, landmarks = [], [], [], []
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        pose = tracker.process(frame, i / 25.0)
        total.append(time.perf_counter() - start)
        detect.append(tracker.times.detect)
        solve.append(tracker.times.solve)
        if pose is not None:
            landmarks.append(pose.landmarks)
    tracker.close()

    height, width = CANVAS
    solver = tracker.solver
    ours, pnp = [], []
    pnp_solve = solve_pnp_factory(solver.reference, width, height)
    for lm in landmarks:
        start = time.perf_counter()
        solver.solve(lm, width, height)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        pnp_solve(lm)
        pnp.append(time.perf_counter() - start)

    busy = sum(total)
    rows = []
    for name, samples in [('whole pipeline (per frame)', total),
                          ('  MediaPipe Face Mesh', detect),
                          ('  pose solve + smoothing', solve),
                          ('lhg_ros Procrustes solve alone', ours),
                          ('OpenCV solvePnP (iterative) alone', pnp)]:
        p50, p99 = percentiles_us(samples)
        rows.append([name, f'{1000 * np.mean(samples):.3f}', f'{p50 / 1000:.3f}',
                     f'{p99 / 1000:.3f}', f'{100 * sum(samples) / busy:.1f}%'
                     if samples is detect or samples is solve else ''])
    print(f'Speaker head pose: {len(frames)} frames of {width}x{height}, CPU {cpu} only, '
          f'face found in {len(landmarks)}\n')
    print(format_table(['stage', 'mean ms', 'p50 ms', 'p99 ms', 'share of pipeline'], rows))
    fps = len(frames) / busy
    solve_ms = 1000 * float(np.mean(ours))
    print(f'\nPipeline: {fps:.0f} frames/s (goal >= 60: {"met" if fps >= 60 else "NOT met"}); '
          f'our solve {solve_ms:.3f} ms (goal < 0.5: {"met" if solve_ms < 0.5 else "NOT met"}), '
          f'{np.mean(pnp) / np.mean(ours):.1f}x faster than solvePnP')


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from publish import run_and_publish

    run_and_publish('bench_head_pose', main)
