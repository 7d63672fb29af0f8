"""Stack recipes (configs/stacks/*.yaml): check them against ZenML's flavors, register them.

A recipe is in `zenml stack import` format (stack_name, components: {type: {name, flavor,
configuration}}) plus two keys of ours: `integrations` (what `zenml integration install`
needs) and `custom_flavors` (flavor classes in this project). ZenML accepts unknown keys in a
component's configuration and fails only when the stack runs; `check` refuses them up front.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

KNOWN_KEYS = {"zenml_version", "stack_name", "components", "integrations", "custom_flavors",
              "description"}


class RecipeError(ValueError):
    pass


def _flavor_classes(recipe: dict) -> dict[tuple[str, str], type]:
    from zenml.integrations.registry import integration_registry
    from zenml.stack.flavor_registry import FlavorRegistry

    flavors = list(FlavorRegistry().builtin_flavors)
    for integration in integration_registry.integrations.values():
        flavors += integration.flavors()
    for source in recipe.get("custom_flavors", []):
        module, _, name = source.rpartition(".")
        flavors.append(getattr(importlib.import_module(module), name))
    out = {}
    for cls in flavors:
        f = cls()
        out[(f.type.value, str(getattr(f.name, "value", f.name)))] = cls
    return out


def load(path: str | Path) -> dict:
    recipe = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(recipe) - KNOWN_KEYS
    if unknown:
        raise RecipeError(f"{path}: unknown key(s) {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}")
    if not recipe.get("stack_name") or not isinstance(recipe.get("components"), dict):
        raise RecipeError(f"{path}: a recipe needs stack_name and components")
    return recipe


def check(path: str | Path) -> dict:
    """Every component names a known flavor and only fields of that flavor's config; a stack
    has an orchestrator and an artifact store."""
    recipe = load(path)
    classes = _flavor_classes(recipe)
    components = recipe["components"]
    for required in ("orchestrator", "artifact_store"):
        if required not in components:
            raise RecipeError(f"{path}: a stack needs an {required}")
    for ctype, comp in components.items():
        where = f"{path}: components.{ctype}"
        cls = classes.get((ctype, comp.get("flavor")))
        if cls is None:
            known = sorted(f for t, f in classes if t == ctype)
            raise RecipeError(f"{where}: unknown {ctype} flavor {comp.get('flavor')!r}; "
                              f"known: {known}")
        config_class = cls().config_class
        given = comp.get("configuration") or {}
        unknown = set(given) - set(config_class.model_fields)
        if unknown:
            raise RecipeError(f"{where}.configuration: unknown field(s) {sorted(unknown)} for "
                              f"flavor {comp['flavor']!r}")
        try:
            config_class(**given)
        except ModuleNotFoundError as e:
            # some validators import the integration's client (e.g. kubernetes for pod_settings):
            # the field names are checked above; values are checked once it is installed
            recipe.setdefault("_unchecked", []).append(f"{ctype}: values need {e.name}")
        except Exception as e:  # pydantic's message names the field
            raise RecipeError(f"{where}.configuration: {e}") from None
    return recipe


def register(path: str | Path, activate: bool = False) -> str:
    """Register the recipe's custom flavors, components (reused when one of that name and
    flavor exists) and stack in the active ZenML store; returns the stack name."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    recipe = check(path)
    client = Client()
    for source in recipe.get("custom_flavors", []):
        module, _, name = source.rpartition(".")
        flavor = getattr(importlib.import_module(module), name)()
        try:
            client.get_flavor_by_name_and_type(flavor.name, flavor.type)
        except KeyError:
            client.create_flavor(source=source, component_type=flavor.type)
    ids = {}
    for ctype, comp in recipe["components"].items():
        ctype_enum = StackComponentType(ctype)
        try:
            found = client.get_stack_component(ctype_enum, comp["name"])
            if found.flavor_name != comp["flavor"]:
                raise RecipeError(f"{path}: a {ctype} named {comp['name']!r} exists with flavor "
                                  f"{found.flavor_name!r}, not {comp['flavor']!r}")
        except KeyError:
            found = client.create_stack_component(comp["name"], comp["flavor"], ctype_enum,
                                                  comp.get("configuration") or {})
        ids[ctype_enum] = found.id
    name = recipe["stack_name"]
    try:
        client.get_stack(name)
        client.update_stack(name, component_updates={t: [i] for t, i in ids.items()})
    except KeyError:
        client.create_stack(name, components=ids)
    if activate:
        client.activate_stack(name)
    return name
