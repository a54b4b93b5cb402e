select payment_type
from "warehouse"."analytics_seeds"."payment_type_lookup"
where payment_type is null
