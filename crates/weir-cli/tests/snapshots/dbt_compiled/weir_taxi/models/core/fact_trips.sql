

with trips as (
    select * from "warehouse"."analytics_core"."trips_unioned"
    
),

zones as (
    select * from "warehouse"."analytics_core"."dim_zones"
    where borough != 'Unknown'
)

select
    trips.trip_id,
    trips.service_type,
    trips.vendor_id,
    trips.ratecode_id,
    trips.pickup_locationid,
    pickup_zone.borough as pickup_borough,
    pickup_zone.zone as pickup_zone,
    trips.dropoff_locationid,
    dropoff_zone.borough as dropoff_borough,
    dropoff_zone.zone as dropoff_zone,
    trips.pickup_datetime,
    trips.dropoff_datetime,
    trips.store_and_fwd_flag,
    trips.passenger_count,
    trips.trip_distance,
    trips.trip_type,
    trips.fare_amount,
    trips.extra,
    trips.mta_tax,
    trips.tip_amount,
    trips.tolls_amount,
    trips.ehail_fee,
    trips.improvement_surcharge,
    trips.total_amount,
    trips.congestion_surcharge,
    trips.payment_type,
    trips.payment_type_description
from trips
inner join zones as pickup_zone
    on trips.pickup_locationid = pickup_zone.locationid
inner join zones as dropoff_zone
    on trips.dropoff_locationid = dropoff_zone.locationid