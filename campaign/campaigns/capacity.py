"""The capacity maths of assignment (SPEC §5), pure: no Flask, no SQLAlchemy.

Agents have quotas and speak languages; clients of one language are
interchangeable for capacity. Everything here works on those few numbers —
never on a row per client — with a small max-flow: which clients of each
language can be placed in priority order (``greedy_by_priority``), how each
agent's quota is split between their languages (``balanced_split``), and the
preview's forecast (``placeable``).
"""
from __future__ import annotations

from collections import deque


class FlowNetwork:
    """A tiny max-flow (Dinic) over agents and languages: at most a few
    thousand edges, so plain Python is fast enough and easy to check."""

    def __init__(self):
        self.graph: dict = {}

    def _edge(self, u, v):
        self.graph.setdefault(u, {}).setdefault(v, 0)
        self.graph.setdefault(v, {}).setdefault(u, 0)

    def add(self, u, v, cap: int):
        self._edge(u, v)
        self.graph[u][v] += cap

    def _levels(self, s, t):
        level = {s: 0}
        q = deque([s])
        while q:
            u = q.popleft()
            for v, c in self.graph[u].items():
                if c > 0 and v not in level:
                    level[v] = level[u] + 1
                    q.append(v)
        return level if t in level else None

    def _push(self, u, t, f, level, it):
        if u == t:
            return f
        nbrs = it[u]
        while nbrs:
            v = nbrs[-1]
            c = self.graph[u][v]
            if c > 0 and level.get(v) == level[u] + 1:
                pushed = self._push(v, t, min(f, c), level, it)
                if pushed:
                    self.graph[u][v] -= pushed
                    self.graph[v][u] += pushed
                    return pushed
            nbrs.pop()
        return 0

    def max_flow(self, s, t, limit: int | None = None) -> int:
        if s not in self.graph or t not in self.graph:
            return 0
        total = 0
        big = limit if limit is not None else 1 << 62
        while total < big:
            level = self._levels(s, t)
            if level is None:
                break
            it = {u: list(vs) for u, vs in self.graph.items()}
            while total < big:
                f = self._push(s, t, big - total, level, it)
                if not f:
                    break
                total += f
        return total


def _flow(caps: dict, speaks: dict, demand: dict, scale: float | None = None):
    """Route ``demand`` {language: n} through agents {agent: capacity}.

    With ``scale``, each agent may carry at most ceil(scale · capacity).
    Returns (routed total, {(agent, language): n}).
    """
    net = FlowNetwork()
    for lang, n in demand.items():
        if n > 0:
            net.add("S", ("L", lang), n)
    for agent, cap in caps.items():
        limit = cap if scale is None else min(cap, -(-int(scale * cap * 1_000_000) // 1_000_000))
        if limit <= 0:
            continue
        for lang in speaks.get(agent, ()):
            if demand.get(lang, 0) > 0:
                net.add(("L", lang), ("A", agent), limit)
        net.add(("A", agent), "T", limit)
    total = net.max_flow("S", "T")
    split = {}
    for lang in demand:
        for node, back in net.graph.get(("L", lang), {}).items():
            if node[0] == "A":
                used = net.graph[node].get(("L", lang), 0)  # reverse residual = flow
                if used > 0:
                    split[(node[1], lang)] = used
    return total, split


def placeable(caps: dict, speaks: dict, demand: dict) -> dict:
    """A forecast of how many clients of each language can be placed: the
    largest total the quotas allow (max-flow), shared between languages that
    compete for the same agents in proportion to their demand (the launch
    follows the priority order, which mixes the languages much like that).
    Returns {language: n}."""
    demand = {lang: n for lang, n in demand.items() if n > 0}
    if feasible(caps, speaks, demand):
        return dict(demand)

    def share(f: float) -> dict:
        return {lang: int(f * n) for lang, n in demand.items()}

    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if feasible(caps, speaks, share(mid)):
            lo = mid
        else:
            hi = mid
    base = share(lo)
    net = FlowNetwork()
    for agent, cap in caps.items():
        if cap > 0:
            for lang in speaks.get(agent, ()):
                if lang in demand:
                    net.add(("L", lang), ("A", agent), cap)
            net.add(("A", agent), "T", cap)
    for lang, n in base.items():
        if n:
            net.add("S", ("L", lang), n)
    net.max_flow("S", "T")
    for lang, n in demand.items():  # then whatever room is left, in the same flow
        if n - base[lang]:
            net.add("S", ("L", lang), n - base[lang])
    net.max_flow("S", "T")
    return {lang: demand[lang] - net.graph.get("S", {}).get(("L", lang), 0) for lang in demand}


def feasible(caps: dict, speaks: dict, demand: dict) -> bool:
    """Can every client of ``demand`` {language: n} be placed within quotas?"""
    need = sum(n for n in demand.values() if n > 0)
    return need == 0 or _flow(caps, speaks, demand)[0] == need


def greedy_by_priority(caps: dict, speaks: dict, bins: list[dict], exact) -> dict:
    """SPEC §5 "which": walk the clients in priority order and place each one
    if the agents who speak its language can still take it (re-routing
    earlier placements through agents who speak several languages when that
    makes room). Returns {language: placed}.

    Clients of one language are interchangeable, so once one is refused every
    later one of that language is too (a matroid greedy); the walk therefore
    only needs the points where a language is refused. ``bins`` holds
    {language: count} for consecutive runs of the priority order (a histogram
    from SQL); ``exact(i)`` returns the languages of bin ``i`` one client at a
    time, in priority order. Feasibility of a prefix is monotone, so each
    refusal is found by binary search: over bins, then inside one bin.
    """
    cum = [{}]
    for b in bins:
        row = dict(cum[-1])
        for lang, n in b.items():
            row[lang] = row.get(lang, 0) + n
        cum.append(row)
    total = cum[-1]
    frozen: dict[str, int] = {}

    def capped(counts):
        return {lang: (min(n, frozen[lang]) if lang in frozen else n) for lang, n in counts.items()}

    def ok(counts):
        return feasible(caps, speaks, capped(counts))

    while not ok(total):
        # The bin in which feasibility is lost (cum[0] is empty, so feasible) …
        lo = _last_true(lambda i: ok(cum[i]), 0, len(bins))
        seq = exact(lo)
        prefixes = [dict(cum[lo])]
        for lang in seq:
            row = dict(prefixes[-1])
            row[lang] = row.get(lang, 0) + 1
            prefixes.append(row)
        # … and the client in it who is refused.
        a = _last_true(lambda i: ok(prefixes[i]), 0, len(seq))
        refused = seq[a]
        frozen[refused] = prefixes[a].get(refused, 0)
    return {lang: capped(total)[lang] for lang in total}


def _last_true(pred, lo: int, hi: int) -> int:
    """The largest i in [lo, hi) with pred(i), given pred(lo) and not pred(hi)
    and pred monotone (true, then false)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(mid):
            lo = mid
        else:
            hi = mid
    return lo


def apportion(total: int, weights: dict) -> dict:
    """Split ``total`` in proportion to ``weights`` (largest remainders;
    ties to the larger weight, then the key). Never exceeds a weight when
    total ≤ Σ weights."""
    wsum = sum(w for w in weights.values() if w > 0)
    if wsum == 0 or total <= 0:
        return {k: 0 for k in weights}
    base = {k: (total * w) // wsum if w > 0 else 0 for k, w in weights.items()}
    left = total - sum(base.values())
    order = sorted((k for k, w in weights.items() if w > 0),
                   key=lambda k: (-((total * weights[k]) % wsum), -weights[k], str(k)))
    for k in order[:left]:
        base[k] += 1
    return base


def _limited_flow(caps: dict, speaks: dict, demand: dict, limits: dict):
    return _flow({a: min(caps[a], limits.get(a, 0)) for a in caps}, speaks, demand)


def balanced_split(caps: dict, speaks: dict, placed: dict) -> dict:
    """{(agent, language): n} carrying exactly ``placed``, with every agent's
    load in proportion to their capacity as far as the languages allow.

    First try the exact proportional loads (``apportion``); when the languages
    do not allow them, the smallest common share of capacity (to 1/1000) at
    which everything still routes.
    """
    need = sum(placed.values())
    if need == 0:
        return {}
    total, split = _flow(caps, speaks, placed)
    if total < need:
        raise ValueError("placed counts exceed what the quotas can carry")
    if sum(c for c in caps.values() if c > 0) == need:
        return split
    loads = apportion(need, {a: c for a, c in caps.items() if c > 0})
    t, s = _limited_flow(caps, speaks, placed, loads)
    if t == need:
        return s
    cap_sum = sum(c for c in caps.values() if c > 0)
    lo, hi, best = need / cap_sum, 1.0, split
    for _ in range(12):  # every probe is a small max-flow
        mid = (lo + hi) / 2
        t, s = _flow(caps, speaks, placed, scale=mid)
        if t >= need:
            hi, best = mid, s
        else:
            lo = mid
        if hi - lo < 0.001:
            break
    return best
