"""Project tags: a project's set of short strings, given at creation, replaced by an
update, or added and removed one at a time, and what project lists filter on.

Keystone's limits hold: at most MAX_TAGS tags, each 1-255 characters without ',' or
'/' (a list's filters are comma-separated, and a tag is a URL path segment), no tag
twice. Tags change no token: nothing cached depends on them.
"""

from .change_feed import Writer
from .errors import InvalidArgument, NotFound
from .store import Store
from .store.project_tags import TagFilter

MAX_TAGS = 80
MAX_TAG_LENGTH = 255
FORBIDDEN_CHARACTERS = ",/"


def check_tag(field: str, tag) -> str:
    if not isinstance(tag, str):
        raise InvalidArgument(field, f"{tag!r} is not of type 'string'")
    if not 1 <= len(tag) <= MAX_TAG_LENGTH:
        raise InvalidArgument(field, f"a tag is 1 to {MAX_TAG_LENGTH} characters long")
    if any(c in tag for c in FORBIDDEN_CHARACTERS):
        raise InvalidArgument(field, "a tag cannot contain ',' or '/'")
    return tag


def check_tags(field: str, tags) -> tuple[str, ...]:
    """`tags` as a tuple, or InvalidArgument naming `field`."""
    if not isinstance(tags, (list, tuple)):
        raise InvalidArgument(field, f"{tags!r} is not of type 'array'")
    if len(tags) > MAX_TAGS:
        raise InvalidArgument(field, f"a project holds at most {MAX_TAGS} tags")
    for tag in tags:
        check_tag(field, tag)
    if len(set(tags)) != len(tags):
        raise InvalidArgument(field, "has non-unique elements")
    return tuple(tags)


def tag_filter(tags=(), tags_any=(), not_tags=(), not_tags_any=()) -> TagFilter:
    """A project list's tag filter, each part a list of tags."""
    parts = {}
    for field, given in (("tags", tags), ("tags-any", tags_any), ("not-tags", not_tags),
                         ("not-tags-any", not_tags_any)):
        given = tuple(given or ())
        for tag in given:
            check_tag(field, tag)
        parts[field] = given
    return TagFilter(parts["tags"], parts["tags-any"], parts["not-tags"], parts["not-tags-any"])


class ProjectTags:
    """Owns projects' tags; the project must exist (NotFound otherwise)."""

    def __init__(self, store: Store, writer: Writer):
        self._store = store
        self._writer = writer

    def _project(self, project_id: str):
        return self._store.resources.get_project(project_id)

    def list(self, project_id: str) -> tuple[str, ...]:
        self._project(project_id)
        return self._store.project_tags.tags_of([project_id]).get(project_id, ())

    def has(self, project_id: str, tag: str) -> bool:
        self._project(project_id)
        return self._store.project_tags.has(project_id, tag)

    def add(self, project_id: str, tag: str) -> None:
        check_tag("tag", tag)
        with self._writer.transaction():
            self._store.resources.lock_project(project_id)
            store = self._store.project_tags
            if not store.has(project_id, tag) and store.count(project_id) >= MAX_TAGS:
                raise InvalidArgument("tag", f"a project holds at most {MAX_TAGS} tags")
            store.add(project_id, tag)

    def replace(self, project_id: str, tags) -> tuple[str, ...]:
        tags = check_tags("tags", tags)
        with self._writer.transaction():
            self._store.resources.lock_project(project_id)
            self._store.project_tags.replace(project_id, tags)
        return tuple(sorted(tags))

    def remove(self, project_id: str, tag: str) -> None:
        with self._writer.transaction():
            self._store.resources.lock_project(project_id)
            if not self._store.project_tags.remove(project_id, tag):
                raise NotFound(f"project {project_id} has no tag {tag!r}")

    def clear(self, project_id: str) -> None:
        with self._writer.transaction():
            self._store.resources.lock_project(project_id)
            self._store.project_tags.replace(project_id, ())
