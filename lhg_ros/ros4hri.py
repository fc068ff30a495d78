"""ROS4HRI (REP-155) names and the choice of whom to follow, ROS-free.

REP-155 gives each tracked face an id, lists the ids on ``/humans/faces/tracked``
(``hri_msgs/IdsList``), and gives a face's head pose as the TF frame ``face_<id>`` (x out of the
face, y to the person's left, z up: the head axes this package uses) relative to the camera;
voices have ids of their own, with ``/humans/voices/<id>/is_speaking`` (``std_msgs/Bool``).
"""

FACES_TRACKED = '/humans/faces/tracked'
VOICES_TRACKED = '/humans/voices/tracked'
TF_TOPIC = '/tf'
FACE_FRAME_PREFIX = 'face_'


def face_frame(face_id: str) -> str:
    return f'{FACE_FRAME_PREFIX}{face_id}'


def voice_speaking_topic(voice_id: str) -> str:
    return f'/humans/voices/{voice_id}/is_speaking'


def valid_id(identifier: str) -> bool:
    """REP-155 ids become topic and frame names: letters, digits and underscores only."""
    return bool(identifier) and identifier.replace('_', '').isalnum() and identifier.isascii()


class Following:
    """Which of the tracked ids to follow: ``wanted`` when given (and only while it is
    tracked); else the one followed so far while it stays tracked; else the first listed."""

    def __init__(self, wanted: str = ''):
        self.wanted = wanted
        self.current = wanted or None

    def update(self, tracked: list[str]) -> str | None:
        """The id to follow after a new list of tracked ids (None: nobody)."""
        ids = [i for i in tracked if valid_id(i)]
        if self.wanted:
            self.current = self.wanted if self.wanted in ids else None
        elif self.current not in ids:
            self.current = ids[0] if ids else None
        return self.current


class FaceIds:
    """Ids for the faces this package publishes: one id per continuous presence of the
    speaker; a face that comes back after being lost is a new id (as a REP-155 detector does
    when it cannot tell the person is the same)."""

    def __init__(self, prefix: str = 'lhg'):
        self.prefix = prefix
        self._count = 0
        self.current: str | None = None

    def update(self, face_present: bool) -> str | None:
        if not face_present:
            self.current = None
        elif self.current is None:
            self.current = f'{self.prefix}{self._count:04d}'
            self._count += 1
        return self.current
