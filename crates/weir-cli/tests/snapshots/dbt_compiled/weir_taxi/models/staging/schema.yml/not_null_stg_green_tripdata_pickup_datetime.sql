select pickup_datetime
from "warehouse"."analytics_staging"."stg_green_tripdata"
where pickup_datetime is null
