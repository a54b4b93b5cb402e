{#- Green and yellow trips in one relation; the staging models already share their columns
    and carry service_type. A view: the fact table is the one copy of the trips worth storing. -#}
{{ config(materialized='view') }}

select * from {{ ref('stg_green_tripdata') }}
union all
select * from {{ ref('stg_yellow_tripdata') }}
