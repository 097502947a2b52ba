"""Rendering every statement of a run: one job function, run by a local process pool or by Celery
workers (``payouts.tasks``, which sends these same jobs; this module knows nothing of Celery), so both
paths produce the same files.

A job gets plain data (statement snapshots), renders PDFs into a folder and returns the file names;
it never touches the database, so it can run on any machine that shares the output folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from payouts.statements.render import html_to_pdf, render_notice_html, render_statement_html

CHUNK = 16


def statement_filename(data: dict) -> str:
    return f"{data['member']['member_no']:05d}-{data['member']['code']}.pdf"


def render_job(items: list[dict], out_dir: str, locale: str, base_url: str) -> list[str]:
    """Render statements (snapshot dicts) to ``out_dir``; returns the file names written."""
    out = Path(out_dir)
    names = []
    for data in items:
        html = render_statement_html(data, locale=locale, verify_url=f"{base_url}/verify/{data['code']}")
        name = statement_filename(data)
        tmp = out / (name + ".part")
        tmp.write_bytes(html_to_pdf(html))
        os.replace(tmp, out / name)         # a file is either complete or absent
        names.append(name)
    return names


def render_notice_job(run: dict, statements: list[dict], entity: dict, notice: tuple[str, str], out_dir: str,
                      locale: str, base_url: str) -> str:
    html = render_notice_html(run, statements, entity=entity, notice_from=notice[0], notice_until=notice[1],
                              locale=locale, verify_url=f"{base_url}/verify/{run['notice_code']}")
    name = f"notice-{run['entity']}-{run['year']}.pdf"
    (Path(out_dir) / name).write_bytes(html_to_pdf(html))
    return name


def chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def render_locally(items: list[dict], out_dir: str, *, workers: int, locale: str, base_url: str,
                   progress: Callable[[int], None] | None = None) -> list[str]:
    """Render with ``workers`` processes (1: in this process), reporting each finished chunk."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    if workers <= 1:
        for part in chunks(items):
            names += render_job(part, out_dir, locale, base_url)
            if progress:
                progress(len(part))
        return names
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(render_job, part, out_dir, locale, base_url): len(part)
                   for part in chunks(items, max(1, min(CHUNK, len(items) // (workers * 4) or 1)))}
        for future in as_completed(futures):
            names += future.result()
            if progress:
                progress(futures[future])
    return sorted(names)
