{#- Incremental models rebuild only what the raw loads since their last build changed.

    dlt stamps every raw row with `_dlt_load_id`: the start of the load that last wrote it (unix
    seconds, as text). An incremental model keeps, in its own `_dlt_load_id`, the newest stamp
    among the rows each of its rows was built from. A load holds the warehouse from its start to
    its commit, and a build holds it throughout (intercom_pipeline/warehouse), so every load the
    model has not read yet is newer than the newest stamp it holds: the next build reads those
    loads' rows and rebuilds the rows they touch.

    A rebuilt key replaces its old rows (unique_key, delete+insert). After a change to an
    incremental model's SQL, build it with --full-refresh (the Dagster run config full_refresh):
    its stored rows were made by the old SQL. -#}

{#- True for a row loaded after the model's last build (any row when the model is empty). The
    newest stamp is read before the model's query and written into it as a constant, so that
    DuckDB filters the rows as it scans them, before computing their columns. -#}
{% macro loaded_since_last_build(column='_dlt_load_id') -%}
    {%- set newest = '' -%}
    {%- if execute -%}
        {%- set newest = run_query(
            'select coalesce(max(_dlt_load_id), \'\') from ' ~ this
        ).columns[0][0] -%}
    {%- endif -%}
    {{ column }} > '{{ newest }}'
{%- endmacro %}
