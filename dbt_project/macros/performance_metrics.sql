{#- Workload, speed and satisfaction of the conversations currently assigned to `key_column`
    (an admin or a team), one row per key. Shared by admin_performance and team_performance.
    Minutes are wall-clock from the conversation's creation; close times count closed
    conversations only. Averages of minutes sum them as decimals (the minutes have two): a sum of
    doubles depends on the order the threads add them, and would round differently run to run. -#}
{% macro performance_metrics(key_column) %}
    select
        workspace_id,
        {{ key_column }} as performance_key,
        count(*) as conversations_handled,
        count(*) filter (where state = 'closed') as conversations_closed,
        round(median(time_to_first_response_minutes), 2) as median_time_to_first_response_minutes,
        round(avg(time_to_first_response_minutes::decimal(18, 2)), 2)
            as average_time_to_first_response_minutes,
        round(median(time_to_last_close_minutes) filter (where state = 'closed'), 2)
            as median_time_to_last_close_minutes,
        round(avg(time_to_last_close_minutes::decimal(18, 2)) filter (where state = 'closed'), 2)
            as average_time_to_last_close_minutes,
        count(rating) as rated_conversations,
        round(avg(rating), 2) as average_rating,
        {%- for score in range(1, 6) %}
        count(*) filter (where rating = {{ score }}) as ratings_{{ score }},
        {%- endfor %}
        {{ rate('count(*) filter (where rating in (4, 5))', 'count(rating)') }} as satisfaction_rate,
        sum(count_reopens) as reopens,
        count(*) filter (where count_reopens > 0) as reopened_conversations,
        round(median(count_reopens), 2) as median_reopens,
        round(median(count_assignments), 2) as median_assignments,
        round(avg(count_parts), 2) as average_parts
    from {{ ref('conversations') }}
    where {{ key_column }} is not null
    group by all
{% endmacro %}

{#- The metric columns above, zero-filled for a key with no conversations. -#}
{% macro performance_columns(alias) -%}
        coalesce({{ alias }}.conversations_handled, 0) as conversations_handled,
        coalesce({{ alias }}.conversations_closed, 0) as conversations_closed,
        {{ alias }}.median_time_to_first_response_minutes,
        {{ alias }}.average_time_to_first_response_minutes,
        {{ alias }}.median_time_to_last_close_minutes,
        {{ alias }}.average_time_to_last_close_minutes,
        coalesce({{ alias }}.rated_conversations, 0) as rated_conversations,
        {{ alias }}.average_rating,
        {%- for score in range(1, 6) %}
        coalesce({{ alias }}.ratings_{{ score }}, 0) as ratings_{{ score }},
        {%- endfor %}
        {{ alias }}.satisfaction_rate,
        coalesce({{ alias }}.reopens, 0) as reopens,
        coalesce({{ alias }}.reopened_conversations, 0) as reopened_conversations,
        {{ alias }}.median_reopens,
        {{ alias }}.median_assignments,
        {{ alias }}.average_parts
{%- endmacro %}
