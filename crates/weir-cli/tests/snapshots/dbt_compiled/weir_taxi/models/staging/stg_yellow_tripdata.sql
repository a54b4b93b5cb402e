with source as (
    select * from "warehouse"."public"."yellow_tripdata"
    where tpep_pickup_datetime is not null
      and tpep_dropoff_datetime >= tpep_pickup_datetime
),

renamed as (
    select
        -- identifiers
        md5_number(
    coalesce(cast('yellow' as varchar), '_weir_null_') || '-' || 
    coalesce(cast(unique_row_id as varchar), '_weir_null_')
  ) as trip_id,
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
        cast(fare_amount as decimal(12, 2)) as fare_amount,
        cast(extra as decimal(12, 2)) as extra,
        cast(mta_tax as decimal(12, 2)) as mta_tax,
        cast(tip_amount as decimal(12, 2)) as tip_amount,
        cast(tolls_amount as decimal(12, 2)) as tolls_amount,
        cast(0 as decimal(12, 2)) as ehail_fee,
        cast(improvement_surcharge as decimal(12, 2)) as improvement_surcharge,
        cast(total_amount as decimal(12, 2)) as total_amount,
        cast(congestion_surcharge as decimal(12, 2)) as congestion_surcharge,
        coalesce(cast(payment_type as integer), 0) as payment_type,
        case cast(payment_type as integer)
    when 1 then 'Credit card'
    when 2 then 'Cash'
    when 3 then 'No charge'
    when 4 then 'Dispute'
    when 5 then 'Unknown'
    when 6 then 'Voided trip'
    else 'Unknown'
  end as payment_type_description,

        -- lineage
        unique_row_id as source_row_id,
        filename as source_file
    from source
)

select * from renamed