{#- An md5 key over a list of expressions, each cast to text, NULL written as a marker that no
    value can take, joined with a separator: the same shape as dbt_utils' surrogate key, written
    here because the project uses no packages. On DuckDB the md5 is kept as the 128-bit number it
    is (`md5_number`), which halves the key's size and the memory of every test and join on it;
    elsewhere it is the usual 32 hex characters. -#}
{% macro surrogate_key(expressions) -%}
  {{ return(adapter.dispatch('surrogate_key', 'weir_taxi')(expressions)) }}
{%- endmacro %}

{% macro default__surrogate_key(expressions) -%}
  md5(
  {%- for expr in expressions %}
    coalesce(cast({{ expr }} as {{ dbt.type_string() }}), '_weir_null_')
    {%- if not loop.last %} || '-' || {% endif -%}
  {% endfor %}
  )
{%- endmacro %}

{% macro duckdb__surrogate_key(expressions) -%}
  md5_number(
  {%- for expr in expressions %}
    coalesce(cast({{ expr }} as {{ dbt.type_string() }}), '_weir_null_')
    {%- if not loop.last %} || '-' || {% endif -%}
  {% endfor %}
  )
{%- endmacro %}
