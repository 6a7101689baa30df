"""Tags: create, read (with image counts, now or as an iteration trained), rename, retype, delete."""

from __future__ import annotations

from localvision import exceptions as errors
from localvision.limits import Tier
from localvision.state.entities import Tag, new_id, utc_now
from localvision.state.registry import Registry, retry_on_conflict
from localvision.state.views import TagView


class TagService:
    def __init__(self, registry: Registry, tier: Tier | None) -> None:
        self._registry = registry
        self._tier = tier

    def list(self, project_id: str, iteration_id: str | None = None) -> list[TagView]:
        with self._registry.lock:
            project = self._registry.project(project_id)
            if iteration_id:
                return list(project.iteration(iteration_id).view().tags)
            counts = project.tag_image_counts()
            return [tag.view(counts.get(tag.id, 0)) for tag in project.tags.values()]

    def get(self, project_id: str, tag_id: str, iteration_id: str | None = None) -> TagView:
        for tag in self.list(project_id, iteration_id):
            if tag.id == tag_id.lower():
                return tag
        raise errors.TAG_NOT_FOUND.error()

    @retry_on_conflict
    def create(
        self, project_id: str, name: str | None, description: str | None, tag_type: str | None
    ) -> TagView:
        with self._registry.lock:
            project = self._registry.project(project_id)
            name = project.check_tag_name(name, None)
            tag_type = project.check_tag_type(tag_type or "Regular", None)
            if self._tier and len(project.tags) >= self._tier.max_tags:
                raise errors.TAG_LIMIT.error(tier=self._tier.name, limit=self._tier.max_tags)
            tag = Tag(new_id(), name, description or "", tag_type, utc_now())
            project.tags[tag.id] = tag
            self._registry.save(project)
            return tag.view(0)

    @retry_on_conflict
    def update(
        self, project_id: str, tag_id: str, name: str | None, description: str | None, tag_type: str | None
    ) -> TagView:
        with self._registry.lock:
            project = self._registry.project(project_id)
            tag = project.tag(tag_id)
            new_name = project.check_tag_name(name, tag.id) if name is not None else tag.name
            new_type = project.check_tag_type(tag_type, tag.id) if tag_type is not None else tag.type
            tag.name, tag.type = new_name, new_type
            if description is not None:
                tag.description = description
            self._registry.save(project)
            return tag.view(project.tag_image_counts().get(tag.id, 0))

    @retry_on_conflict
    def delete(self, project_id: str, tag_id: str) -> None:
        with self._registry.lock:
            project = self._registry.project(project_id)
            tag = project.tag(tag_id)
            del project.tags[tag.id]
            for image in project.images.values():
                image.tags.pop(tag.id, None)
            self._registry.save(project)
