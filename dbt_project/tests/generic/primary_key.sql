{#- The model's grain holds: the key columns identify one row, and none of them is null except
    those listed in `nullable` (e.g. a team_id that is null for unassigned conversations). -#}
{% test primary_key(model, columns, nullable=[]) %}
with duplicated as (
    select {{ columns | join(', ') }}, count(*) as rows_with_key
    from {{ model }}
    group by all
    having count(*) > 1
),

missing as (
    select {{ columns | join(', ') }}, 0 as rows_with_key
    from {{ model }}
    where false
    {%- for column in columns if column not in nullable %}
        or {{ column }} is null
    {%- endfor %}
)

select * from duplicated
union all
select * from missing
{% endtest %}
