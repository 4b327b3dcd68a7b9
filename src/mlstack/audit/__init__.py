"""Audits of a stack against what its workspace and endpoints record.

records   what the stack records about one version: the version, the source version it
          was promoted from, its gates and the endpoint deployments serving it
graph     the lineage graph built from those records (data → run → model → environment →
          deployment), rendered as Mermaid or PNG
card      the Markdown model card built from the same records
drift     what the workspace and endpoints hold that the stack's state does not say
"""
