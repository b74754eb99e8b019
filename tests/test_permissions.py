"""docs/permissions.md is the matrix the server enforces."""

from pathlib import Path

from rooms.roles import ALL_ROLES, PERMISSIONS, Role, allowed_commands, may

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


def test_the_documented_matrix_matches_the_code():
    documented = documented_matrix()
    assert documented.pop("ping") == {role.value for role in ALL_ROLES}
    assert documented == {command: {role.value for role in roles} for command, roles in PERMISSIONS.items()}


def test_only_those_who_run_the_floor_may_give_it():
    assert may({Role.CHAIR}, "give_floor") and may({Role.MODERATOR}, "reorder")
    assert not may({Role.PARTICIPANT, Role.PRESENTER}, "give_floor")
    assert allowed_commands({Role.OBSERVER}) == []
    assert not may({Role.INTERPRETER}, "request_floor")
