"""environment.yml is kept in step with pyproject.toml."""

import re
import tomllib

import pytest
import yaml


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")



@pytest.mark.parametrize("env_file", ["environment.yml", "workflow/envs/glioma.yaml"])
def test_environment_yml_lists_every_dependency(repo, env_file):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((repo / env_file).read_text())
    names: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(d) for d in dep["pip"] if not d.startswith("-e")}
        else:
            names.add(_name(dep.split("=")[0]))
    wanted = {_name(d) for d in project["dependencies"]}
    missing = wanted - names - {"python", "pip"}
    assert not missing, f"{env_file} lacks {sorted(missing)}"
    assert project["requires-python"].startswith(">=3.11")
