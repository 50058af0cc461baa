"""CloudFormation logical IDs: the one a construct's resource has (cdk-nag's findings name resources by it), a value
as cdk-nag's findings write it, and the pinning that keeps deployed resources' IDs when their constructs move."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from aws_cdk import CfnElement, Stack
from constructs import IConstruct


def logical_id(construct: IConstruct) -> str:
    """The logical ID of `construct`'s CloudFormation resource, as the template shows it (cdk-nag's finding IDs
    name resources by it)."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return str(Stack.of(construct).resolve(resource.logical_id))


def nag_reference(scope: IConstruct, value: str) -> str:
    """`value` (a string with tokens, such as an ARN) as cdk-nag names it in a finding: resolved in `scope`'s stack,
    then flattened as cdk-nag's flattenCfnReference does (a Ref as <Id>, a GetAtt as <Id.Attribute>, a Join
    joined)."""
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(node: Any) -> str:
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict) and "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return str(delimiter).join(_flatten(item) for item in items)
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        resource, attribute = node["Fn::GetAtt"]
        return f"<{_flatten(resource)}.{_flatten(attribute)}>"
    if isinstance(node, dict) and "Ref" in node:
        return f"<{_flatten(node['Ref'])}>"
    raise ValueError(f"cannot say how cdk-nag names {node!r}")


def keep_logical_ids(constructs: Iterable[IConstruct], *, first_deployed_without: Iterable[IConstruct]) -> None:
    """Give every CloudFormation element in `constructs` the logical ID it would have without the parts in
    `first_deployed_without`, as a child of the pipeline itself.

    CDK derives a logical ID from the construct path, so moving a resource into a part changes its ID, and
    CloudFormation replaces a resource whose logical ID changes. tests/infra/logical_ids.py records the IDs that
    must not change; two elements given the same ID fail the synth.
    """
    part_paths = {part.node.path for part in first_deployed_without}
    for construct in constructs:
        for element in construct.node.find_all():
            if isinstance(element, CfnElement):
                below_stack = element.node.scopes[len(Stack.of(element).node.scopes) :]
                path = [scope.node.id for scope in below_stack if scope.node.path not in part_paths]
                element.override_logical_id(_cdk_logical_id(path))


def _cdk_logical_id(path: list[str]) -> str:
    """The logical ID CDK allocates to the element at `path` (construct ids below the stack).

    aws-cdk-lib's makeUniqueId (core/lib/private/uniqueid.ts), which CDK cannot change without replacing resources
    in every deployed app: the ids without "Default"; a single id stands alone; otherwise each id not already the end
    of the previous one, without "Resource", alphanumerics only, then the first 8 hex digits of the path's MD5.
    """
    ids = [id_ for id_ in path if id_ != "Default"]
    if len(ids) == 1 and len(alone := _alphanumeric(ids[0])) <= 255:
        return alone
    digest = hashlib.md5("/".join(ids).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human: list[str] = []
    for id_ in ids:
        if not human or not human[-1].endswith(id_):
            human.append(id_)
    return "".join(_alphanumeric(id_) for id_ in human if id_ != "Resource")[:240] + digest


def _alphanumeric(text: str) -> str:
    return re.sub("[^A-Za-z0-9]", "", text)
