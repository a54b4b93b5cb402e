{#- One row per yellow trip as loaded by weir.warehouse.Load, with typed, renamed columns and a
    surrogate key. The load already keeps one row per key; first_per_key keeps that true after
    the casts (two spellings of one value in the file become one value here). -#}
with source as (
    select * from {{ source('tlc', 'yellow_tripdata') }}
    where tpep_pickup_datetime is not null
      and tpep_dropoff_datetime >= tpep_pickup_datetime
),

renamed as (
    select
        -- identifiers
        {{ surrogate_key(["'yellow'", 'vendorid', 'tpep_pickup_datetime', 'tpep_dropoff_datetime',
                          'pulocationid', 'dolocationid', 'fare_amount', 'trip_distance']) }} as trip_id,
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

{{ first_per_key('renamed', 'trip_id', 'source_row_id') }}
