"""docs/permissions.md is the matrix the command registry enforces."""

from pathlib import Path

from rooms.roles import ALL_ROLES, Role
from server.app import command_registry

DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"


def documented_matrix() -> dict[str, set[str]]:
    lines = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    matrix = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        command = cells[0].strip("`")
        matrix[command] = {header[i] for i, cell in enumerate(cells) if i and cell == "yes"}
    return matrix


def test_the_documented_matrix_is_the_registry():
    documented = documented_matrix()
    assert documented.pop("ping") == {role.value for role in ALL_ROLES}
    registry = command_registry()
    assert documented == {name: {role.value for role in spec.roles} for name, spec in registry.specs.items()}


def test_only_those_who_run_the_floor_may_give_it():
    registry = command_registry()
    assert registry.may({Role.CHAIR}, "give_floor") and registry.may({Role.MODERATOR}, "reorder")
    assert not registry.may({Role.PARTICIPANT, Role.PRESENTER}, "give_floor")
    assert registry.allowed({Role.OBSERVER}) == []
    assert not registry.may({Role.INTERPRETER}, "request_floor")
    assert not registry.may({Role.CHAIR}, "no_such_command")
