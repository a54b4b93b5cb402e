select trip_id
from "warehouse"."analytics_staging"."stg_yellow_tripdata"
where trip_id is null
