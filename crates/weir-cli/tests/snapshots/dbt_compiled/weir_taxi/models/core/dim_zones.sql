select
    locationid,
    borough,
    zone,
    case service_zone when 'Boro Zone' then 'Green Zone' else service_zone end as service_zone
from "warehouse"."analytics_seeds"."taxi_zone_lookup"