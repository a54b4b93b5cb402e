{#- One row per `key` from `relation` (a CTE name): the one with the lowest `order_by`.
    DuckDB says it with `qualify`; other warehouses with `distinct on`, which PostgreSQL and
    Redshift read. -#}
{% macro first_per_key(relation, key, order_by) -%}
  {{ return(adapter.dispatch('first_per_key', 'weir_taxi')(relation, key, order_by)) }}
{%- endmacro %}

{% macro duckdb__first_per_key(relation, key, order_by) -%}
select * from {{ relation }}
qualify row_number() over (partition by {{ key }} order by {{ order_by }}) = 1
{%- endmacro %}

{% macro default__first_per_key(relation, key, order_by) -%}
select distinct on ({{ key }}) * from {{ relation }}
order by {{ key }}, {{ order_by }}
{%- endmacro %}
