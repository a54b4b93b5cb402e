select borough
from "warehouse"."analytics_core"."dim_zones"
where borough is null
