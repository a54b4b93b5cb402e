select dropoff_locationid
from "warehouse"."analytics_staging"."stg_green_tripdata"
where dropoff_locationid is null
