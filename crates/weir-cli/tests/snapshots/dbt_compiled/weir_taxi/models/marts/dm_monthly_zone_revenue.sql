select
    pickup_zone as revenue_zone,
    cast(date_trunc('month', pickup_datetime) as date) as revenue_month,
    service_type,

    sum(fare_amount) as revenue_monthly_fare,
    sum(extra) as revenue_monthly_extra,
    sum(mta_tax) as revenue_monthly_mta_tax,
    sum(tip_amount) as revenue_monthly_tip_amount,
    sum(tolls_amount) as revenue_monthly_tolls_amount,
    sum(ehail_fee) as revenue_monthly_ehail_fee,
    sum(improvement_surcharge) as revenue_monthly_improvement_surcharge,
    sum(total_amount) as revenue_monthly_total_amount,
    sum(congestion_surcharge) as revenue_monthly_congestion_surcharge,

    count(*) as total_monthly_trips,
    round(avg(passenger_count), 4) as avg_monthly_passenger_count,
    round(avg(trip_distance), 4) as avg_monthly_trip_distance
from "warehouse"."analytics_core"."fact_trips"
group by 1, 2, 3