{#- Green and yellow trips in one relation; the staging models already share their columns
    and carry service_type. -#}
select * from {{ ref('stg_green_tripdata') }}
union all
select * from {{ ref('stg_yellow_tripdata') }}
