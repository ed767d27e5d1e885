"""dependency_graph_acyclic: cycles are reported with their path; ordering never loops."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from ctx_assets.contracts.gates import GateName, GateResult, Violation


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle as a path [a, b, …, a], or None. Iterative DFS: no recursion limit, no loop."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in graph}
    for start in graph:
        if color[start] != WHITE:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        color[start] = GREY
        while stack:
            node, i = stack[-1]
            deps = list(graph.get(node, ()))
            if i < len(deps):
                stack[-1] = (node, i + 1)
                nxt = deps[i]
                state = color.get(nxt, BLACK)  # unknown nodes are reported by the seed gate
                if state == GREY:
                    return path[path.index(nxt):] + [nxt]
                if state == WHITE:
                    color[nxt] = GREY
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                color[node] = BLACK
                stack.pop()
                path.pop()
    return None


def topological_order(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """Nodes with each after its dependencies, ties in the graph's own order. Raises on a cycle."""
    remaining = {n: [d for d in deps if d in graph] for n, deps in graph.items()}
    dependents: dict[str, list[str]] = {n: [] for n in graph}
    for n, deps in remaining.items():
        for d in deps:
            dependents[d].append(n)
    indegree = {n: len(deps) for n, deps in remaining.items()}
    position = {n: i for i, n in enumerate(graph)}
    ready = [(position[n], n) for n, k in indegree.items() if k == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        _, n = heapq.heappop(ready)
        out.append(n)
        for m in dependents[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                heapq.heappush(ready, (position[m], m))
    if len(out) != len(graph):
        raise ValueError(f"dependency cycle: {' -> '.join(find_cycle(graph) or [])}")
    return out


def check_acyclic(graph: Mapping[str, Sequence[str]]) -> GateResult:
    cycle = find_cycle(graph)
    violations = [Violation(field="artifact_dependency_graph", message="cycle: " + " -> ".join(cycle))] if cycle else []
    return GateResult.of(GateName.dependency_graph_acyclic, violations, nodes=len(graph),
                         edges=sum(len(v) for v in graph.values()))
