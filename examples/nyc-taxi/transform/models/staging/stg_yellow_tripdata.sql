{#- One row per yellow trip as loaded by weir.warehouse.Load, with typed, renamed columns. The
    load keeps one row per `unique_row_id` (a hash of the whole row), so the trip's key is that
    key with the service in front: unique without re-reading the table to drop duplicates. -#}
with source as (
    select * from {{ source('tlc', 'yellow_tripdata') }}
    where tpep_pickup_datetime is not null
      and tpep_dropoff_datetime >= tpep_pickup_datetime
),

renamed as (
    select
        -- identifiers
        {{ surrogate_key(["'yellow'", 'unique_row_id']) }} as trip_id,
        'Yellow' as service_type,
        cast(vendorid as integer) as vendor_id,
        cast(ratecodeid as integer) as ratecode_id,
        cast(pulocationid as integer) as pickup_locationid,
        cast(dolocationid as integer) as dropoff_locationid,

        -- timestamps
        cast(tpep_pickup_datetime as timestamp) as pickup_datetime,
        cast(tpep_dropoff_datetime as timestamp) as dropoff_datetime,

        -- trip info
        store_and_fwd_flag,
        cast(passenger_count as integer) as passenger_count,
        cast(trip_distance as decimal(10, 2)) as trip_distance,
        1 as trip_type,

        -- payment info
        {{ to_money('fare_amount') }} as fare_amount,
        {{ to_money('extra') }} as extra,
        {{ to_money('mta_tax') }} as mta_tax,
        {{ to_money('tip_amount') }} as tip_amount,
        {{ to_money('tolls_amount') }} as tolls_amount,
        {{ to_money('0') }} as ehail_fee,
        {{ to_money('improvement_surcharge') }} as improvement_surcharge,
        {{ to_money('total_amount') }} as total_amount,
        {{ to_money('congestion_surcharge') }} as congestion_surcharge,
        coalesce(cast(payment_type as integer), 0) as payment_type,
        {{ get_payment_type_description('payment_type') }} as payment_type_description,

        -- lineage
        unique_row_id as source_row_id,
        filename as source_file
    from source
)

select * from renamed
