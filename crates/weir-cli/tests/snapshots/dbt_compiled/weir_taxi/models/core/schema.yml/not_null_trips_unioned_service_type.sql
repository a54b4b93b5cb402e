select service_type
from "warehouse"."analytics_core"."trips_unioned"
where service_type is null
