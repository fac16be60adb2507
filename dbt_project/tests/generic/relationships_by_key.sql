{#- Every row whose key columns are all set has a parent in `to` with the same values in
    `fields` (default: the same names). dbt's `relationships` compares one column; ids here are
    unique only within a workspace, so the key includes workspace_id. -#}
{% test relationships_by_key(model, columns, to, fields=none) %}
{%- set parent_fields = fields if fields else columns -%}
select {% for column in columns %}child.{{ column }}{{ ", " if not loop.last }}{% endfor %}
from {{ model }} as child
where {% for column in columns %}child.{{ column }} is not null and {% endfor %}not exists (
    select 1
    from {{ to }} as parent
    where {% for column in columns -%}
        parent.{{ parent_fields[loop.index0] }} = child.{{ column }}
        {{- " and " if not loop.last }}
    {%- endfor %}
)
{% endtest %}
