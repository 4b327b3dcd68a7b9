"""mlstack's CrossGuard policy pack: guardrails for Azure ML estates declared with Pulumi.

    resource   what a policy sees of one resource; the resource types it knows
    settings   the stack's ``mlstack:policy*`` keys: profile, enforcement, limits
    rule       a policy: name, description, pure check
    promotion, lineage, gates, network, endpoint_auth, shared_keys, protection,
    compute, instance_types, data_retention, tags
               the checks, one module per thing checked
    catalog    every rule, in the order the preview reports them
    pack       the rules as pulumi_policy policies, served to the engine

Run by ``pulumi preview --policy-pack policy`` (see the README, "Guardrails").
"""
