"""The claims browser (`extract report`): one static HTML file that reproduces the
claims dashboard, with client-side filters, readable offline from `file://`.

`build` chooses the report's sections, `claims` turns the store into the claims
section's data, `diff` a run diff into the diff section's, `page` assembles the
document (template, style and scripts from `assets/`, data as escaped JSON, a
Content-Security-Policy that forbids any fetch).
"""

from extract.browser.build import ReportSummary, build_report, write_report

__all__ = ["ReportSummary", "build_report", "write_report"]
